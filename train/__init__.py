"""The ar_keras training command: ``python -m train --model NAME --dataset NAME``."""
