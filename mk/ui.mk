# The dashboard in a real browser (issue 14). Included by the Makefile.

.PHONY: ui-test

## ui-test: the dashboard in headless Chromium (Debian chromium + chromium-driver, Selenium from PyPI into .venv/); screenshots in target/ui/
ui-test:
	@scripts/ui-test.sh
