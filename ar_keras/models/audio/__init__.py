"""Audio models: WaveNet, SampleRNN."""
