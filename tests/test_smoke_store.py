from shared.models import Principal
from shared.settings import get_settings
from shared.store.api_keys import ApiKeyStore
from shared.store.endpoints import EndpointStore


def test_endpoint_and_key_round_trip(aws):
    settings = get_settings()
    endpoints = EndpointStore(settings.table_name)
    created = endpoints.create("user_a", "My Laptop!")
    assert created["slug"].startswith("my-laptop-")
    target = endpoints.resolve_slug(created["slug"])
    assert target is not None and target.tenant_id == "user_a"
    assert endpoints.list("user_b", 20, None).items == []
    keys = ApiKeyStore(settings.table_name, settings.secret_bytes())
    record, key = keys.create(Principal(user_id="user_a", tenant_id="user_a"), "cli")
    principal = keys.principal_for(key)
    assert principal is not None and principal.api_key_id == record["id"]
    assert endpoints.delete("user_b", created["id"]) is None
    assert endpoints.delete("user_a", created["id"]) is not None
    assert endpoints.resolve_slug(created["slug"]) is None


def test_the_server_secret_comes_from_secrets_manager_when_deployed(aws):
    import boto3

    from shared.settings import Settings

    arn = boto3.client("secretsmanager").create_secret(Name="codecosts-server", SecretString="s3cr3t")["ARN"]
    settings = Settings(server_secret="", server_secret_arn=arn)
    assert settings.secret_bytes() == b"s3cr3t"
