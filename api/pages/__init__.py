"""Server-rendered pages: the visitor's secure form and the demo chat window (more later).

Pages are plain Starlette routes (HTML in, HTML out, form posts rather than JSON), so
they live beside the JSON registry, not in it, and stay out of the OpenAPI document.
"""

from __future__ import annotations
