"""`GET /api/prices?model=`: what the running code charges for a model, and the data's version."""

from __future__ import annotations

import genai_prices
from fastapi.testclient import TestClient


def test_prices_show_the_tiers_and_multipliers_applied(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/api/prices", params={"model": "claude-sonnet-4-20250514"}, headers=alice)
    assert response.status_code == 200
    sheet = response.json()
    assert sheet["model"] == "claude-sonnet-4-20250514" and sheet["model_id"] == "claude-sonnet-4-0"
    # Anthropic's Sonnet 4 long-context rates, which genai-prices lacks: the override applies.
    assert sheet["source"] == "codecosts override"
    assert sheet["prices"]["input_mtok"] == {
        "usd": "3",
        "tiers": [{"above_input_tokens": 200000, "usd": "6"}],
    }
    assert sheet["prices"]["cache_write_1h_mtok"]["tiers"] == [{"above_input_tokens": 200000, "usd": "12"}]
    assert sheet["data_version"].startswith(f"genai-prices {genai_prices.__version__}")
    assert sheet["data_date"] is not None

    fast = client.get("/api/prices", params={"model": "claude-opus-5"}, headers=alice).json()
    assert fast["fast_prices"]["output_mtok"] == {"usd": "50", "tiers": []}
    assert fast["multipliers"] == {"us_only_inference": "1.1"}


def test_an_unknown_model_is_a_404_in_the_contract_shape(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/api/prices", params={"model": "claude-imaginary-9"}, headers=alice)
    assert response.status_code == 404
    assert response.json() == {"error": "Model not found"}
    missing = client.get("/api/prices", headers=alice)
    assert missing.status_code == 400 and missing.json()["details"][0]["field"] == "model"
    assert client.get("/api/prices", params={"model": "claude-opus-5"}).status_code == 401
