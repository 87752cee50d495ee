"""Code the Codecosts functions share: settings, resource definitions, domain models and data access."""
