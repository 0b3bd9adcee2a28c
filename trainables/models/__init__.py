"""Networks: enhancers, judges and backbones, plain ``torch.nn`` modules.

``MODELS`` is the one name -> class dict used where a string name is really needed (sweep files,
the model registry); code that knows what it wants imports the class. Images are float32
(N, C, H, W) in [0, 1], RGB unless a model's docstring says otherwise.
"""

from __future__ import annotations

import inspect

from torch import nn

from trainables.errors import UserInputError
from trainables.models.backbones import (BACKBONES, ImageNetNormalize, SplitClassifier, build_backbone,
                                         check_weights, feature_extractor)
from trainables.models.classifiers import SmallInception, SmallResNet, SmallVGG
from trainables.models.descriptor import DescriptorConvMap, EnhancedQueryDescriptor, LandmarkDescriptor
from trainables.models.dncnn import BicubicDnCNN, DnCNN
from trainables.models.edsr import EDSR, MDSR
from trainables.models.fsr import FSRCritic, FSRGenerator
from trainables.models.nima import NIMAHead
from trainables.models.qa_head import QAIRHead
from trainables.models.qrnet import QRNet

MODELS: dict[str, type[nn.Module]] = {
    "dncnn": DnCNN,
    "bicubic_dncnn": BicubicDnCNN,
    "qair_head": QAIRHead,
    "edsr": EDSR,
    "mdsr": MDSR,
    "qrnet": QRNet,
    "fsr_generator": FSRGenerator,
    "fsr_critic": FSRCritic,
    "landmark_descriptor": LandmarkDescriptor,
    "nima_head": NIMAHead,
    "small_vgg": SmallVGG,
    "small_resnet": SmallResNet,
    "small_inception": SmallInception,
}


def build_model(name: str, **kwargs) -> nn.Module:
    """``MODELS[name](**kwargs)``; an unknown name or argument is a ``UserInputError``."""
    if name not in MODELS:
        raise UserInputError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    cls = MODELS[name]
    try:
        inspect.signature(cls).bind(**kwargs)  # a typo'd key is the user's, not a bug
    except TypeError as err:
        raise UserInputError(f"model {name!r}: {err}") from None
    return cls(**kwargs)


__all__ = [
    "MODELS", "build_model", "BACKBONES", "build_backbone", "feature_extractor", "SplitClassifier", "check_weights",
    "ImageNetNormalize", "DnCNN", "BicubicDnCNN", "QAIRHead", "EDSR", "MDSR", "QRNet", "FSRGenerator",
    "FSRCritic", "LandmarkDescriptor", "DescriptorConvMap", "EnhancedQueryDescriptor", "NIMAHead", "SmallVGG", "SmallResNet", "SmallInception",
]
