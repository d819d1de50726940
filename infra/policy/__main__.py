"""mlrig's policy pack: `pulumi preview --policy-pack infra/policy` (or `pulumi up --policy-pack …`) in any project.

Built here, not at import: constructing a PolicyPack waits for the engine.
"""

from pulumi_policy import PolicyPack

from infra.policy.rules import POLICIES

PolicyPack(name="mlrig", policies=POLICIES)
