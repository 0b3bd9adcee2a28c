"""Small helpers the real-dataset adapters share: layout checks, image listing, image → tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from trainables.errors import UserInputError

# torchvision's IMG_EXTENSIONS, so an ImageFolder root means the same here as there.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def require_file(path: Path, layout: str) -> Path:
    if not path.is_file():
        raise UserInputError(f"missing {path} (expected layout: {layout})")
    return path


def require_dir(path: Path, layout: str) -> Path:
    if not path.is_dir():
        raise UserInputError(f"missing {path}/ (expected layout: {layout})")
    return path


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (extension case ignored)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); a missing or unreadable file is a user error."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UserInputError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (3, H, W) in [0, 1] → RGB uint8 (H, W, 3), rounded."""
    return (x.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) → float32 (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(255.0)


def read_tensor(path: Path) -> torch.Tensor:
    """Any readable image file (grey, RGB, RGBA) → float32 RGB (3, H, W) in [0, 1]."""
    return to_tensor(read_rgb(path))


class ImageListSet(Dataset):
    """Images without labels (enhancement inputs): ``ds[i]`` is a float32 RGB (3, H, W) tensor."""

    def __init__(self, paths: list[Path], transform=None):
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = read_tensor(self.paths[i])
        return self.transform(img) if self.transform is not None else img


IMAGE_DIR_LAYOUT = "<root>/*.{jpg,jpeg,png,ppm,bmp,pgm,tif,tiff,webp}"


def load_image_dir(root: str | Path, transform=None) -> ImageListSet:
    """A flat folder of images for enhancement, in file-name order; subfolders are ignored."""
    root = require_dir(Path(root), IMAGE_DIR_LAYOUT)
    paths = list_images(root)
    if not paths:
        raise UserInputError(f"missing images in {root}/ (expected layout: {IMAGE_DIR_LAYOUT})")
    return ImageListSet(paths, transform)
