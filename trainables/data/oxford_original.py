"""The original Oxford5k / Paris6k (Philbin et al.) ground truth, converted to a ``RetrievalSet``.

Layout of ``<root>`` (the dataset folder itself)::

    gt/<landmark>_<k>_query.txt   one line: "<image> x1 y1 x2 y2"; Oxford writes the image as
                                  "oxc1_all_souls_000013", Paris as "paris_defense_000605"
    gt/<landmark>_<k>_good.txt    image names, one a line, no extension
    gt/<landmark>_<k>_ok.txt
    gt/<landmark>_<k>_junk.txt
    jpg/**/*.jpg                  Oxford's oxbuild_images.tgz unpacks flat; Paris's
                                  paris_{1,2}.tgz unpack to paris/<landmark>/*.jpg: either works

(``gt/`` is the unpacked gt_files_170407.tgz or paris_120310.tgz.)

Mapping to the revisitop ``gnd`` format, which gives the original protocol (good and ok
count as positives, junk is ignored) under the "easy" and "medium" settings of the same mAP:

    imlist       every image under jpg/, sorted by file name (queries included, as originally)
    qimlist[i]   the image of the i-th query file, query files sorted by name
    gnd[i].bbx   [x1, y1, x2, y2] from the query file
    gnd[i].easy  sorted indices of good + ok;  .hard = [];  .junk = sorted indices of junk

Entries of ``imlist``/``qimlist`` are paths relative to jpg/ without ``.jpg``, so the nested
Paris layout needs no moving of files.
"""

from __future__ import annotations

from pathlib import Path

from trainables.data.image_files import require_dir, require_file
from trainables.data.retrieval_set import RetrievalSet
from trainables.errors import UserInputError

ORIGINAL_LAYOUT = "<root>/gt/<landmark>_<k>_{query,good,ok,junk}.txt and <root>/jpg/**/*.jpg"


def load_oxford_original(root: str | Path, name: str = "oxford5k", skip_missing: bool = False) -> RetrievalSet:
    """Read an original Oxford5k/Paris6k copy.

    A name in a good/ok/junk list with no image under jpg/ is an error, since it usually
    means a partly unpacked archive; ``skip_missing=True`` drops such names instead (for copies
    where the 20 corrupt Paris images were deleted). A missing query image is always an error.
    """
    root = Path(root)
    gt_dir = require_dir(root / "gt", ORIGINAL_LAYOUT)
    image_dir = require_dir(root / "jpg", ORIGINAL_LAYOUT)
    query_files = sorted(gt_dir.glob("*_query.txt"))
    if not query_files:
        raise UserInputError(f"missing {gt_dir}/*_query.txt (expected layout: {ORIGINAL_LAYOUT})")
    images = sorted(image_dir.rglob("*.jpg"), key=lambda p: p.name)
    if not images:
        raise UserInputError(f"missing {image_dir}/*.jpg (expected layout: {ORIGINAL_LAYOUT})")
    imlist = [p.relative_to(image_dir).with_suffix("").as_posix() for p in images]
    index = {p.stem: i for i, p in enumerate(images)}
    if len(index) < len(images):
        raise UserInputError(f"{image_dir} holds two images with the same file name")

    def indices(list_file: Path) -> list[int]:
        names = require_file(list_file, ORIGINAL_LAYOUT).read_text().split()
        missing = [n for n in names if n not in index]
        if missing and not skip_missing:
            raise UserInputError(f"missing {image_dir}/{missing[0]}.jpg (listed in {list_file})")
        return sorted(index[n] for n in names if n in index)

    qimlist, gnd = [], []
    for qfile in query_files:
        fields = qfile.read_text().split()
        if len(fields) != 5:
            raise UserInputError(f"{qfile} should hold one line '<image> x1 y1 x2 y2'")
        qname = fields[0].removeprefix("oxc1_")
        if qname not in index:
            raise UserInputError(f"missing {image_dir}/{qname}.jpg (query of {qfile})")
        stem = qfile.name.removesuffix("_query.txt")
        good, ok, junk = (indices(gt_dir / f"{stem}_{kind}.txt") for kind in ("good", "ok", "junk"))
        qimlist.append(imlist[index[qname]])
        gnd.append({"bbx": [float(v) for v in fields[1:]], "easy": sorted(good + ok), "hard": [], "junk": junk})
    return RetrievalSet(name, image_dir, imlist, qimlist, gnd)
