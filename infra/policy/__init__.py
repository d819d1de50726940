"""mlrig's Pulumi policy pack: the rules are importable (rules.py); the pack is built only in __main__.py."""
