"""Which image a stack runs, kept by the stack itself: the release CD handed in, else the last one deployed.

`mlrig deploy` hands `pulumi up` the release as `$MLRIG_RELEASE_<KIND>_IMAGE` (pipelines/release/images.py). Every
run exports the reference it deployed as the output `image`, so a later `pulumi preview` in a pull request, or a
manual `pulumi up` from a laptop, reads the running release back from the stack's own state (a StackReference to
itself) instead of going back to the `imageTag`/`imageDigest` in Pulumi.<stack>.yaml: that value bootstraps a new
stack, and wins again only when a person changes it (the stack also exports the value it last saw there).
"""

from __future__ import annotations

import os

import pulumi

from pipelines.release.images import CONFIG_IMAGE_OUTPUT, IMAGE_OUTPUT, RELEASE_ENV, check_reference


def organization() -> str:
    """The stack's organization: the real one on Pulumi Cloud, `organization` on a self-managed backend (file://, s3://)."""
    return pulumi.get_organization() or "organization"  # None only under mocks, which also answer `organization`


def stack_name(project: str, stack: str | None = None) -> str:
    """`<org>/<project>/<stack>`, the form a StackReference resolves on every backend."""
    return f"{organization()}/{project}/{stack or pulumi.get_stack()}"


def this_stack() -> str:
    return stack_name(pulumi.get_project())


def released_image(kind: str, from_config: str) -> pulumi.Input[str]:
    """The reference to deploy for `kind` (serving, pipeline); exported as this stack's `image` output.

    Order: the release handed in by `mlrig deploy`; else the stack file's image if a person changed it since the last
    run (a deliberate `pulumi config set imageTag …`); else the release the stack runs now; else the stack file's.
    """
    pulumi.export(CONFIG_IMAGE_OUTPUT, from_config)
    handed_in = os.environ.get(RELEASE_ENV[kind])
    if handed_in:
        image: pulumi.Input[str] = check_reference(handed_in)
    else:
        itself = pulumi.StackReference(this_stack())
        image = pulumi.Output.all(itself.get_output(IMAGE_OUTPUT), itself.get_output(CONFIG_IMAGE_OUTPUT)).apply(
            lambda running: _choose(running[0], running[1], from_config)
        )
    pulumi.export(IMAGE_OUTPUT, image)
    return image


def _choose(running: str | None, config_then: str | None, config_now: str) -> str:
    if not running or config_then != config_now:
        return config_now
    return check_reference(running)
