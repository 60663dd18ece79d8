"""The 16 kHz Silero VAD network (silero-vad package, MIT) re-implemented in plain torch, with the
parameters of the package's model, so that its convolutions can be swapped for FactorConv modules.

The network, per 512-sample chunk of 16 kHz audio with the 64 samples before it as
context (zeros before the first chunk):
  576 samples, reflect-padded by 64 on the right -> 640
  STFT as a convolution (258 filters of 256 taps, hop 128, no bias) -> 4 frames of 129 real and
      129 imaginary parts -> magnitude sqrt(re^2 + im^2): (129, 4)
  conv1 129->128 k3 s1 p1, ReLU -> (128, 4);  conv2 128->64 k3 s2 p1, ReLU -> (64, 2)
  conv3 64->64 k3 s2 p1, ReLU -> (64, 1);     conv4 64->128 k3 s1 p1, ReLU -> (128, 1)
  LSTM cell (128 -> 128), its (h, c) carried from chunk to chunk
  ReLU(h) -> 1x1 conv 128->1 -> sigmoid: the chunk's speech probability.
Everything before the LSTM depends on one chunk only, so all chunks go through the convolutions
as one batch, and the LSTM runs over the chunk sequence in one call.

Checked against the package's own TorchScript model (load_silero_vad()) in
tests/test_silero_net.py.
"""

import importlib.resources

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16000
CHUNK = 512          # samples per probability (CHUNK / SAMPLE_RATE seconds each)
CONTEXT = 64         # samples of the previous chunk prepended to each
N_FFT = 256
HOP = 128
#: The trained convolutions FactorConv can compress, in the network's order.
CONV_NAMES = ("conv1", "conv2", "conv3", "conv4")


#: The TorchScript model's parameter names -> the names SileroVAD16k takes (the safetensors
#: file's).
_PACKAGE_NAMES = {"stft.forward_basis_buffer": "stft_conv.weight",
                  "decoder.decoder.2.weight": "final_conv.weight",
                  "decoder.decoder.2.bias": "final_conv.bias"}
_PACKAGE_NAMES.update({"encoder.%d.reparam_conv.%s" % (i, kind): "conv%d.%s" % (i + 1, kind)
                       for i in range(4) for kind in ("weight", "bias")})
_PACKAGE_NAMES.update({"decoder.rnn." + name: "lstm_cell." + name
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})


def load_package_model():
    """The package's TorchScript model (``silero_vad.load_silero_vad()``), keeping torch's thread
    count (importing silero_vad sets it to 1)."""
    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad
    model = load_silero_vad()
    torch.set_num_threads(threads)
    return model


def package_state_dict():
    """The 16 kHz parameters of the package's TorchScript model, under this module's names: the
    model the package runs (``load_silero_vad()``)."""
    state = load_package_model()._model.state_dict()
    return {ours: state[theirs].detach().clone() for theirs, ours in _PACKAGE_NAMES.items()}


def safetensors_state_dict():
    """The parameters in the package's ``data/silero_vad_16k.safetensors`` (the names
    SileroVAD16k takes). In silero-vad 6.2.3 they have the TorchScript model's names and shapes
    but other values, so the network is checked with package_state_dict()."""
    from safetensors.torch import load_file
    path = importlib.resources.files("silero_vad.data").joinpath("silero_vad_16k.safetensors")
    return load_file(str(path))


class SileroVAD16k(nn.Module):
    """The network with the parameters of ``state_dict`` (default: package_state_dict(), the
    package's TorchScript model's). ``forward`` takes 16 kHz mono audio (a 1-D float tensor) and
    returns one speech probability per chunk."""

    def __init__(self, state_dict=None):
        super().__init__()
        self.stft_conv = nn.Conv1d(1, 2 * (N_FFT // 2 + 1), N_FFT, stride=HOP, bias=False)
        self.conv1 = nn.Conv1d(N_FFT // 2 + 1, 128, 3, stride=1, padding=1)
        self.conv2 = nn.Conv1d(128, 64, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(64, 64, 3, stride=2, padding=1)
        self.conv4 = nn.Conv1d(64, 128, 3, stride=1, padding=1)
        # The package's LSTM cell run over the whole chunk sequence in one call: nn.LSTM has the
        # cell's parameters (suffix _l0) and gate order, and starts from zero states as well.
        self.lstm = nn.LSTM(128, 128, batch_first=True)
        self.final_conv = nn.Conv1d(128, 1, 1)
        state = package_state_dict() if state_dict is None else state_dict
        self.load_state_dict({name.replace("lstm_cell.", "lstm.") + ("_l0" if name.startswith(
            "lstm_cell.") else ""): value for name, value in state.items()})
        self.eval()

    @staticmethod
    def chunks(audio):
        """(n_chunks, CONTEXT + CHUNK): the audio zero-padded to whole chunks, each chunk with the
        CONTEXT samples before it (zeros before the first)."""
        audio = torch.as_tensor(audio, dtype=torch.float32).reshape(-1)
        n_chunks = -(-audio.numel() // CHUNK)
        padded = torch.zeros(CONTEXT + n_chunks * CHUNK)
        padded[CONTEXT:CONTEXT + audio.numel()] = audio
        return padded.unfold(0, CONTEXT + CHUNK, CHUNK)

    def features(self, chunks):
        """The convolutional encoder: (n, CONTEXT + CHUNK) samples -> (n, 128)."""
        x = nn.functional.pad(chunks.unsqueeze(1), (0, CONTEXT), mode="reflect")
        spectrum = self.stft_conv(x)
        half = N_FFT // 2 + 1
        x = torch.sqrt(spectrum[:, :half] ** 2 + spectrum[:, half:] ** 2)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = torch.relu(conv(x))
        return x.squeeze(-1)

    def forward(self, audio):
        """Speech probabilities, one per CHUNK samples (the last chunk zero-padded)."""
        features = self.features(self.chunks(audio))
        states, _ = self.lstm(features.unsqueeze(0))
        logits = self.final_conv(torch.relu(states[0]).unsqueeze(-1))
        return torch.sigmoid(logits).reshape(-1)


def package_probabilities(audio, model=None):
    """The package's own model (TorchScript, ``load_silero_vad()``) run chunk by chunk as its
    documentation does, from fresh states: the reference for SileroVAD16k."""
    model = load_package_model() if model is None else model
    audio = torch.as_tensor(audio, dtype=torch.float32).reshape(-1)
    n_chunks = -(-audio.numel() // CHUNK)
    padded = torch.zeros(n_chunks * CHUNK)
    padded[:audio.numel()] = audio
    model.reset_states()
    with torch.no_grad():
        return torch.cat([model(padded[i * CHUNK:(i + 1) * CHUNK].unsqueeze(0), SAMPLE_RATE)
                          .reshape(-1) for i in range(n_chunks)])


def speech_segments(probabilities, onset=0.5, offset=0.35, min_speech_chunks=8,
                    min_silence_chunks=10):
    """[(first chunk, end chunk)] of speech by hysteresis thresholding: a segment starts at a
    chunk >= onset and ends before the first run of min_silence_chunks chunks < offset (a shorter
    dip stays inside); segments shorter than min_speech_chunks are dropped."""
    p = np.asarray(probabilities, dtype=np.float64)
    segments, start, quiet = [], None, 0
    for i, value in enumerate(p):
        if start is None:
            if value >= onset:
                start, quiet = i, 0
        elif value < offset:
            quiet += 1
            if quiet >= min_silence_chunks:
                segments.append((start, i - quiet + 1))
                start = None
        else:
            quiet = 0
    if start is not None:
        segments.append((start, len(p) - quiet))
    return [(a, b) for a, b in segments if b - a >= min_speech_chunks]
