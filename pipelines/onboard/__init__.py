"""mlrig: bring your own data — infer a contract from sample files, flag PII, write the config."""
