"""The one error type of the image code: what failed, for which image, and what to do next."""


class ImageError(RuntimeError):
    """An image could not be built, run, smoke-tested or pushed; the message says why and what to do."""
