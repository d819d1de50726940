"""The `mlrig` command: the one layer that may import every other (pipelines ← service ← infra ← mlrig_cli).

Stage commands live in `mlrig_cli.app`; each area's own command group (pipelines.ml.cli, infra.images.cli, …) is
registered there, so a command that needs the service or the image tooling never pulls it into pipelines/.
"""
