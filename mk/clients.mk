# Typed clients (issue 17). Included by the Makefile.

.PHONY: clients

## clients: lint openapi/openapi.json (redocly), generate the Python client and TypeScript types into target/clients/ (pinned tools from PyPI and npm), smoke-test both against a live ttp
clients:
	@scripts/clients.sh
