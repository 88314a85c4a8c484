"""Plain `nn.Module` networks: usable without Lightning, built from config by Hydra."""
