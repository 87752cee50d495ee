"""Prints a new Codecosts API key, for CODECOSTS_DEV_API_KEY."""

from shared.credentials import generate_api_key

if __name__ == "__main__":
    print(generate_api_key())
