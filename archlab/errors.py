"""The one error type a user's mistake in a spec turns into."""


class SpecError(ValueError):
    """A spec, a transform or a build request that cannot be honoured.

    The message always names the place (spec, node, block, argument) and what would be valid.
    ``node`` carries the offending node id when there is one, so callers can point at it.
    """

    def __init__(self, message: str, *, node: str | None = None, spec: str | None = None):
        where = []
        if spec:
            where.append(f"spec {spec!r}")
        if node:
            where.append(f"node {node!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.node = node
        self.spec = spec
