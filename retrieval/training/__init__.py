"""Learning the shared space: projection heads, contrastive/triplet/distillation/adversarial
losses, and (to come) the accelerate trainer."""
