print("nhgd-bench: not yet implemented")
