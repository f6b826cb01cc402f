"""Configuration as code (docs/config-as-code.md): ``document`` (the file's model and
its JSON Schema), ``loader`` (YAML with file and line per problem), ``plan`` (the
diff between a document and a server's state, no I/O) and ``remote`` (the server's
HTTP API as the state's source and the plan's sink)."""
