print("nhgd: not yet implemented")
