"""`python -m mlrig_cli`: the pipeline image's entrypoint, the same command as `mlrig`."""

from mlrig_cli.entry import main

main()
