print("xdpbench")
