"""Schemathesis hooks for .ci/schemathesis.

Idempotency-Key: a client makes a new key for each operation it performs,
and the server answers a key reused for another request with 422 (design
decision 17). The generator draws keys from a small space and reuses them,
and its coverage phase sends placeholder header values such as `0` in cases
it counts as valid without checking the documented pattern. So a case that
should be valid gets a fresh, valid key of its own. A case meant to be
invalid keeps an invalid key, which the server must refuse (400).
"""

import re
import uuid

import schemathesis

KEY = "Idempotency-Key"
# The documented pattern: an RFC 8941 sf-string of 1 to 255 characters.
VALID = re.compile(r'"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"\Z')


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers or KEY not in headers:
        return
    meta = case.meta
    positive = meta is None or str(meta.generation.mode) == "positive"
    if positive or VALID.match(str(headers[KEY])):
        headers[KEY] = f'"{uuid.uuid4()}"'
