"""Acting on the site: backend commands, the local policy, their journal and interlocks."""
