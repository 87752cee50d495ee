"""Data access: every read and write of the Codecosts table and bodies bucket lives here."""
