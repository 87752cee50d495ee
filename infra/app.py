"""CDK entry point: `cdk.json` runs `python -m infra.app` from the repository root.

Run as a module, not as `python infra/app.py`: that would put infra/ first on sys.path, where
infra/constructs/ would shadow the `constructs` library.
"""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.stack import ROOT, CodecostsStack, DeploymentConfig, context_defaults


def build_app(
    context: dict[str, object] | None = None, outdir: str | None = None
) -> tuple[App, CodecostsStack]:
    """cdk.json's context is the default; `cdk -c key=value` (via the CLI) and `context` override it."""
    app = App(context={**context_defaults(), **(context or {})}, outdir=outdir)
    stack = CodecostsStack(
        app,
        "Codecosts",
        config=DeploymentConfig.from_context(app),
        description="Codecosts: a cost meter for the Anthropic API",
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    # The CDK CLI says where to write (CDK_OUTDIR); run directly, it goes to cdk.out/ at the root.
    app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    app.synth()


if __name__ == "__main__":
    main()
