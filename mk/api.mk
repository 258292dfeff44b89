.PHONY: api-fuzz

## api-fuzz: schemathesis (from PyPI, into .venv/) with every check against a private Redis and a debug ttp, driven by openapi/openapi.json
api-fuzz:
	@scripts/api-fuzz.sh
