.PHONY: run test test-fast lint format bench services

run:            ## set up and run the platform (SQLite + in-memory layer unless DATABASE_URL/REDIS_URL)
	scripts/run

test:           ## set up and run the whole suite: SQLite, PostgreSQL + Redis, fault injection
	scripts/test

test-fast:      ## the suite on SQLite only, without browser and fault tests
	.venv/bin/python -m pytest -m "not faults and not browser" -q

services:       ## start (installing if needed) Redis, PostgreSQL, Chromium, nginx
	scripts/services

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench:          ## benchmark suite (see docs/performance.md)
	.venv/bin/python -m bench.run
