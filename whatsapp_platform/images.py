"""Opening untrusted images with a pixel budget, so a few kilobytes cannot claim gigabytes.

An image's header declares its size; decoding then allocates width × height × bytes per pixel,
whatever the file weighs (a 6.5 KB lossless WebP can declare 13,000 × 13,000). Every image we
open (outbound conversion, files customers send, profile photos) goes through `image_open`,
which reads only the header and refuses anything over MAX_IMAGE_PIXELS before a pixel is decoded.
"""

import io

from PIL import Image

from whatsapp_platform.errors import PlatformError

# 40 megapixels: a phone camera's photo (12–24 MP) fits; decoding one as RGBA takes about 160 MB.
MAX_IMAGE_PIXELS = 40_000_000

# Pillow's own guard, for any opening that does not come through here: it warns above this and raises
# DecompressionBombError above twice this (its default, 89 MP, let the 169 MP WebP through with a warning).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class ImageTooLarge(PlatformError):
    code = "image_too_large"
    http_status = 413

    def __init__(self, *, size: tuple[int, int] | None):
        # Pillow refuses past twice the budget before the size is known to us.
        self.dimensions = f"{size[0]:,}×{size[1]:,} pixels" if size else f"over {2 * MAX_IMAGE_PIXELS:,} pixels"
        super().__init__(
            f"The image is {self.dimensions}; images may have at most {MAX_IMAGE_PIXELS:,} pixels "
            "(e.g. 8,000×5,000). Scale it down and send it again."
        )


class ImageUnreadable(PlatformError):
    code = "image_unreadable"
    http_status = 400


def image_open(content: bytes) -> Image.Image:
    """The image, opened lazily (pixels are decoded on first use) once its declared size is within budget.

    Raises ImageTooLarge over the budget, ImageUnreadable when it is not an image Pillow knows.
    The caller closes it (use it as a context manager).
    """
    try:
        image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(size=None) from exc
    except Exception as exc:  # Pillow raises many types for unreadable files
        raise ImageUnreadable(f"The file is not a readable image ({exc}).") from exc
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise ImageTooLarge(size=(width, height))
    return image


def image_size_check(content: bytes) -> tuple[int, int]:
    """The image's (width, height), read from its header only. Raises ImageTooLarge or ImageUnreadable."""
    with image_open(content) as image:
        return image.size
