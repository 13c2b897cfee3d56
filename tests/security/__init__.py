# A package, so that this folder's conftest.py imports as "security.conftest" and never
# shadows tests/api's plain "conftest" module (whose tests do `from conftest import …`)
# when both suites run in one pytest session.
