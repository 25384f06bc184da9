"""`objective=adversarial`: the objective (objective.py), its estimators (bgan.py, reinforce.py,
rollout.py, rewards.py), the discriminator it trains (critic.py, discriminator_loss.py) or the exact one
(oracle_discriminator.py), the generator as a policy (policy.py) and its settings (config.py)."""
