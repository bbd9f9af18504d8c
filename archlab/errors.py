"""archlab's errors: one base class, :class:`ArchlabError`, under every error a user's mistake
turns into, so ``except archlab.ArchlabError`` catches them all and a command line turns any of
them into one line and exit status 2."""


class ArchlabError(ValueError):
    """Base of every archlab error: a request that cannot be honoured, with a message that names
    the place (argument, file, spec, node) and what would be valid."""


class SpecError(ArchlabError):
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


class BlockContractError(SpecError):
    """A block class that does not keep the block contract (:mod:`archlab.blocks`): the message names
    the block and the missing or wrong attribute."""


class DataError(ArchlabError):
    """A dataset that cannot be loaded as asked: a missing or malformed tree, an unknown name or split.

    The message names the dataset and the path or setting at fault, and what was expected there.
    """

    def __init__(self, message: str, *, dataset: str | None = None):
        super().__init__(f"dataset {dataset!r}: {message}" if dataset else message)
        self.dataset = dataset


class TrainingError(ArchlabError, RuntimeError):
    """A training run that cannot go on (diverged, or its checkpoint does not match the request)."""
