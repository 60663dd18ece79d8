"""Real speech for the demo: English sentences spoken by espeak-ng (Debian package espeak-ng),
joined with pauses of silence, resampled to 16 kHz, with faint noise under it all."""

import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

#: (pause before it in seconds, sentence).
SCRIPT = (
    (0.6, "Factor conv compresses the convolutions of a trained network."),
    (1.2, "This recording was made by a speech synthesiser."),
    (0.9, "The detector should find three sentences, and the silence between them."),
)
TRAILING_SILENCE = 0.8
NOISE_RMS = 0.003    # under the whole recording, so that the pauses are not exact zeros


def espeak(text, path, words_per_minute=150):
    """Writes espeak-ng's rendering of ``text`` to the WAV file ``path``."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (make deps installs it; or apt-get install "
                           "espeak-ng)")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-w", path, text],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_wav(path):
    """(mono float samples in [-1, 1), sample rate) of a 16-bit PCM WAV file."""
    with wave.open(path, "rb") as file:
        if file.getsampwidth() != 2:
            raise ValueError("%s: expected 16-bit samples" % path)
        rate, channels = file.getframerate(), file.getnchannels()
        data = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    return data.reshape(-1, channels).mean(axis=1) / 32768.0, rate


def resample(signal, rate_in, rate_out, half_width=24):
    """Band-limited resampling: each output sample is the input convolved with a Hann-windowed
    sinc low-pass (cutoff at the lower Nyquist frequency, ``half_width`` input samples on each
    side) at its position in input time."""
    signal = np.asarray(signal, dtype=np.float64)
    n_out = int(round(len(signal) * rate_out / rate_in))
    scale = min(1.0, rate_out / rate_in)              # cutoff as a fraction of the input Nyquist
    positions = np.arange(n_out) * (rate_in / rate_out)
    base = np.floor(positions).astype(np.int64)
    taps = np.arange(-half_width + 1, half_width + 1)
    index = base[:, None] + taps[None, :]
    distance = positions[:, None] - index
    window = 0.5 + 0.5 * np.cos(np.pi * np.clip(distance / half_width, -1, 1))
    kernel = scale * np.sinc(scale * distance) * window
    valid = (index >= 0) & (index < len(signal))
    samples = np.where(valid, signal[np.clip(index, 0, len(signal) - 1)], 0.0)
    return (samples * kernel).sum(axis=1)


def synthesise(rate=16000, seed=0):
    """(audio as float32 at ``rate``, [(start, end) seconds of each sentence]): SCRIPT spoken by
    espeak-ng. The sentence times are where espeak-ng's output is, including its own short
    leading and trailing silences."""
    pieces, truth, time = [], [], 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for number, (pause, text) in enumerate(SCRIPT):
            path = os.path.join(scratch, "sentence-%d.wav" % number)
            espeak(text, path)
            voice, voice_rate = read_wav(path)
            voice = resample(voice, voice_rate, rate)
            pieces += [np.zeros(int(pause * rate)), voice]
            time += pause
            truth.append((time, time + len(voice) / rate))
            time += len(voice) / rate
    pieces.append(np.zeros(int(TRAILING_SILENCE * rate)))
    audio = np.concatenate(pieces)
    audio += NOISE_RMS * np.random.default_rng(seed).standard_normal(audio.shape)
    return audio.astype(np.float32), truth
