"""The real-network demo's parts (examples/silero_net.py, examples/speech.py): the plain-torch
Silero VAD network against the silero-vad package's own TorchScript model on speech synthesised
by espeak-ng; the network with FactorConv modules in place of its convolutions against the same
network with torch convolutions of the reconstructed kernels; the resampler against a sine."""

import copy
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not importable here (make deps installs it)")
_threads = torch.get_num_threads()
pytest.importorskip("silero_vad", reason="silero-vad is not installed (make deps installs it)")
torch.set_num_threads(_threads)   # importing silero_vad sets 1 for the whole process
import factorconv.torch as fct  # noqa: E402 - after the skips

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import silero_net  # noqa: E402
import speech  # noqa: E402

CHUNK_SECONDS = silero_net.CHUNK / silero_net.SAMPLE_RATE


@pytest.fixture(scope="module")
def recording():
    """(16 kHz audio, sentence times in seconds) from espeak-ng."""
    return speech.synthesise()


@pytest.fixture(scope="module")
def network():
    return silero_net.SileroVAD16k()


def test_matches_the_package_model_on_speech(recording, network):
    audio, sentences = recording
    with torch.inference_mode():
        ours = network(torch.from_numpy(audio))
    theirs = silero_net.package_probabilities(audio)
    assert ours.shape == theirs.shape == (-(-len(audio) // silero_net.CHUNK),)
    assert float((ours - theirs).abs().max()) < 1e-5
    # The input is speech the model hears: one segment per sentence, each overlapping it.
    segments = silero_net.speech_segments(ours.numpy())
    assert len(segments) == len(sentences)
    for (first, end), (start, stop) in zip(segments, sentences):
        assert first * CHUNK_SECONDS < stop and end * CHUNK_SECONDS > start


def test_the_package_safetensors_file_fits_the_architecture():
    # Same names and shapes (load_state_dict is strict); its values are another training's.
    net = silero_net.SileroVAD16k(silero_net.safetensors_state_dict())
    with torch.inference_mode():
        p = net(torch.zeros(4 * silero_net.CHUNK))
    assert p.shape == (4,) and bool(((p > 0) & (p < 1)).all())


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_factorconv_convolutions_in_place(recording, network, factorization):
    """The network with factorconv.torch modules as conv1..conv4 against the network with
    torch Conv1d layers holding the modules' reconstructed kernels (the same compressed network
    computed by torch)."""
    audio, _ = recording
    compressed, reference = copy.deepcopy(network), copy.deepcopy(network)
    for name in silero_net.CONV_NAMES:
        conv = getattr(network, name)
        layer = fct.FactorizedConv.from_conv(conv, 0.5, "auto", factorization, seed=0)
        setattr(compressed, name, layer)
        kernel = layer.weight.to_tensor()
        if factorization == "tt":               # TT's layout: (in, kernel, out)
            kernel = kernel.movedim(-1, 0)
        with torch.no_grad():
            getattr(reference, name).weight.copy_(kernel)
            getattr(reference, name).bias.copy_(layer.bias)
    x = torch.from_numpy(audio)
    with torch.inference_mode():
        ours, theirs = compressed(x), reference(x)
    assert isinstance(compressed.conv2, fct.FactorizedConv)
    assert float((ours - theirs).abs().max()) < 1e-4


def test_resample_keeps_a_tone():
    rate_in, rate_out, frequency = 22050, 16000, 440.0
    tone = np.sin(2 * np.pi * frequency * np.arange(rate_in) / rate_in)
    out = speech.resample(tone, rate_in, rate_out)
    assert len(out) == rate_out
    expected = np.sin(2 * np.pi * frequency * np.arange(rate_out) / rate_out)
    # Away from the edges (where the filter runs off the signal).
    assert np.abs(out[100:-100] - expected[100:-100]).max() < 1e-4
