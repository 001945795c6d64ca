"""The domain: sites, people, conversations, forms, form requests and submissions.

Modules take a `Runtime` (the process's stores) and, for anything site-scoped, an `Actor`.
"""
