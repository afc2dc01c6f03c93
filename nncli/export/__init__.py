"""Export a model to PyTorch, safetensors or ONNX (`nncli export`).

    torch_code.py       the one generator of a torch.nn.Module's source from a model
    onnx_graph.py       the ONNX graph of a model (onnx.helper)
    safetensors_file.py weights as .safetensors (read by --weights too)
    files.py            what each format writes, never over an existing file without force
    check.py            the exported model run in its runtime against nncli's forward

torch, onnx and onnxruntime are imported only inside the functions that need them.
"""
