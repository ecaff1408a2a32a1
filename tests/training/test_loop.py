"""Training from cached lower-layer states equals training from token ids."""

from __future__ import annotations

import random

import torch

from serve.network import NetworkSpec, build_network, trainable_state
from training.loop import _order, _pad, cache_lower_states


def test_cached_lower_states_give_the_same_logits_as_token_ids():
    net = build_network(NetworkSpec(lora_first_layer=3), seed=0).eval()
    ids = [[101, 7592, 2088, 102], [101, 4248, 102]]

    states = cache_lower_states(net, ids, upto=3, use_bf16=False)
    net.eval()
    input_ids, mask = _pad([torch.tensor(x) for x in ids])
    hidden, hidden_mask = _pad(states)
    with torch.no_grad():
        direct = net(input_ids, mask)
        cached = net(attention_mask=hidden_mask, hidden=hidden, from_layer=3)

    assert torch.allclose(direct, cached, atol=1e-5)
    assert not any(s.is_inference() for s in states)


def test_adapters_sit_only_on_layers_from_the_first_one_up():
    net = build_network(NetworkSpec(lora_first_layer=4), seed=0)

    layers = {
        int(name.split("layer.")[1].split(".")[0])
        for name in trainable_state(net)
        if "lora" in name
    }

    assert layers == {4, 5}


def test_batches_cover_every_example_once():
    lengths = [random.Random(i).randint(1, 50) for i in range(103)]

    chunks = _order(lengths, batch_size=8, rng=random.Random(0))

    assert sorted(i for chunk in chunks for i in chunk) == list(range(103))
    assert max(len(c) for c in chunks) == 8
