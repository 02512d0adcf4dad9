"""A small character-level language model trained with PyTorch DDP (gloo,
CPU) - Gantry's demo job.  Every rank reads the same text file, rank 0
checkpoints to $GANTRY_CHECKPOINT_DIR as it goes, and a restarted gang
resumes from the last checkpoint.  Progress goes to stdout as
    GANTRY_PROGRESS {"step": N, "total_steps": T, "loss": L, ...}
lines (rank 0), which Gantry turns into the job's status.

Environment: the one Kubeflow's PyTorchJob sets (MASTER_ADDR, MASTER_PORT,
WORLD_SIZE, RANK) and DEMO_TEXT, DEMO_STEPS, DEMO_CKPT_EVERY (optional).
"""
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn

TEXT = os.environ.get("DEMO_TEXT", "/usr/share/common-licenses/GPL-3")
STEPS = int(os.environ.get("DEMO_STEPS", "200"))
CKPT_EVERY = int(os.environ.get("DEMO_CKPT_EVERY", "20"))
SEQ, BATCH, HIDDEN = 32, 16, 96
CKPT_DIR = os.environ.get("GANTRY_CHECKPOINT_DIR", "/tmp")
CKPT = os.path.join(CKPT_DIR, "demo-ckpt.pt")


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32)
        self.rnn = nn.GRU(32, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, vocab)

    def forward(self, x, h=None):
        y, h = self.rnn(self.emb(x), h)
        return self.out(y), h


def wait_for_master(host, port, timeout=120):
    """The master's name resolves once its pod has an address: wait for it."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.getaddrinfo(host, port)
            return
        except socket.gaierror:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def sample(model, stoi, itos, prompt="The ", n=160):
    model.eval()
    x = torch.tensor([[stoi.get(c, 0) for c in prompt]])
    out, h = list(prompt), None
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        logits, h = model(x, h)
        for _ in range(n):
            p = torch.softmax(logits[0, -1] / 0.8, dim=0)
            i = torch.multinomial(p, 1, generator=g).item()
            out.append(itos[i])
            logits, h = model(torch.tensor([[i]]), h)
    return "".join(out)


def main():
    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    wait_for_master(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    text = open(TEXT, encoding="utf-8", errors="replace").read()
    chars = sorted(set(text))
    stoi, itos = {c: i for i, c in enumerate(chars)}, chars
    data = torch.tensor([stoi[c] for c in text])
    torch.manual_seed(1234)
    model = CharLM(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step, first_loss = 0, None
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, first_loss = ck["step"], ck["first_loss"]
        print("resumed from step %d (epoch %s)" % (step, os.environ.get("GANTRY_RESTART_EPOCH")),
              flush=True)
    ddp = nn.parallel.DistributedDataParallel(model)
    g = torch.Generator().manual_seed(rank * 100003 + step)
    lossf = nn.CrossEntropyLoss()
    t0, tokens = time.time(), 0
    while step < STEPS:
        ix = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=g)
        x = torch.stack([data[i:i + SEQ] for i in ix])
        y = torch.stack([data[i + 1:i + SEQ + 1] for i in ix])
        logits, _ = ddp(x)
        loss = lossf(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        tokens += BATCH * SEQ * world
        if first_loss is None:
            first_loss = loss.item()
        if rank == 0:
            dt = max(time.time() - t0, 1e-6)
            print("GANTRY_PROGRESS " + json.dumps({
                "step": step, "total_steps": STEPS, "loss": round(loss.item(), 4),
                "tokens_per_s": round(tokens / dt, 1)}), flush=True)
        if rank == 0 and (step % CKPT_EVERY == 0 or step == STEPS):
            tmp = CKPT + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "first_loss": first_loss}, tmp)
            os.replace(tmp, CKPT)
    dist.barrier()
    if rank == 0:
        print("final loss %.4f (first %.4f)" % (loss.item(), first_loss), flush=True)
        print("SAMPLE " + json.dumps(sample(model, stoi, itos)), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
