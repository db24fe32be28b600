"""The file-system model of the power-cut fault: reads what `powercut_shim.c` recorded and
builds the disk states a power cut could leave (RELIABILITY.md, "power-cut").

What is assumed of the file system (a strict POSIX reading, stricter than ext4's ordered
mode, so every state ext4 can leave is among those built, and some it cannot):
- `fsync`/`fdatasync` of a file makes every earlier write to that file durable, and only to
  that file; a write through a descriptor opened `O_DSYNC`/`O_SYNC` is durable when it returns
  (a crash while it runs may leave any of its pages or sectors).
- Writes after a file's last flush reach the disk a page (4,096 bytes) at a time, in any
  order and any subset; a page that reaches it holds the page as the program had it after
  one of those writes (never a mix of writes). A second pass tears pages: each 512-byte
  sector of a page written is its new or its old content. A sector is never torn.
- A page written past the durable end of a file makes the file that long; pages in between
  that did not reach the disk read as zeros.
- A directory entry (a file's creation, `mkdir`, `rename`, `link`, `unlink`, `rmdir`) is
  durable once the directory that holds it (both, for a rename across directories) has been
  fsynced after it. Entries not yet durable persist as a prefix of the order they were made
  in (journalled metadata is ordered on ext4, XFS and btrfs). A file whose creation did not
  persist is absent, whatever was flushed to it.
- `sync`/`syncfs` make everything durable. Files written through a shared writable `mmap`
  (only LMDB's `lock.mdb`, which LMDB rebuilds when the first process opens it) keep their
  size and are otherwise zeros in every state; the harness says which files they were.
"""

import hashlib
import os
import random
import struct

PAGE = 4096
SECTOR = 512

OPEN, CLOSE, WRITE, FSYNC, FDATASYNC, FTRUNCATE, RENAME, LINK, UNLINK, MKDIR, RMDIR, SYMLINK, SYNC, MSYNC, MMAP, FALLOCATE, SYNC_RANGE = range(1, 18)
NAMES = {
    OPEN: "open", CLOSE: "close", WRITE: "write", FSYNC: "fsync", FDATASYNC: "fdatasync",
    FTRUNCATE: "ftruncate", RENAME: "rename", LINK: "link", UNLINK: "unlink", MKDIR: "mkdir",
    RMDIR: "rmdir", SYMLINK: "symlink", SYNC: "sync", MSYNC: "msync", MMAP: "mmap",
    FALLOCATE: "fallocate", SYNC_RANGE: "sync_file_range",
}
O_CREAT, O_TRUNC, O_DIRECTORY = 0o100, 0o1000, 0o200000
O_DSYNC = 0o10000  # O_SYNC includes it
HEAD = struct.Struct("<IIiQQqqqIII")


class Record:
    __slots__ = ("op", "thread", "fd", "start", "end", "result", "a", "b", "path", "path2", "data")

    def __repr__(self):
        return f"{NAMES.get(self.op, self.op)}(fd={self.fd}, {self.path!r}, {self.path2!r}, a={self.a}, r={self.result}, {len(self.data)} B)"


def read_trace(path):
    """Every record of a trace file, in the order the calls took effect."""
    records = []
    with open(path, "rb") as f:
        blob = f.read()
    at = 0
    while at < len(blob):
        (length,) = struct.unpack_from("<I", blob, at)
        body = blob[at + 4 : at + 4 + length]
        r = Record()
        (r.op, r.thread, r.fd, r.start, r.end, r.result, r.a, r.b, p1, p2, n) = HEAD.unpack_from(body)
        o = HEAD.size
        r.path = body[o : o + p1].decode()
        r.path2 = body[o + p1 : o + p1 + p2].decode() if (p2 or r.op in (RENAME, LINK)) else None
        r.data = body[o + p1 + p2 : o + p1 + p2 + n]
        records.append(r)
        at += 4 + length
    return records


def parent(path):
    return path.rsplit("/", 1)[0] if "/" in path else ""


class Inode:
    def __init__(self, kind, content=b""):
        self.kind = kind  # "file" or "dir"
        self.cache = bytearray(content)  # what the program sees
        self.durable = bytearray(content)  # what a power cut keeps for sure
        self.pending = []  # Units written since the last flush, in order
        self.mapped = False  # written through a shared writable mmap


class Unit:
    """One page of a write as the program had it right after the write (or a size change)."""

    __slots__ = ("inode", "page", "content", "size", "order")

    def __init__(self, inode, page, content, size, order):
        self.inode, self.page, self.content, self.size, self.order = inode, page, content, size, order


class DirOp:
    __slots__ = ("kind", "path", "path2", "inode", "needs", "order")

    def __init__(self, kind, path, path2, inode, needs, order):
        self.kind, self.path, self.path2, self.inode, self.needs, self.order = kind, path, path2, inode, set(needs), order


class Model:
    """The program's view and the disk's at one point of a trace, advanced record by record."""

    def __init__(self, initial=None):
        self.inodes = {"root": Inode("dir")}
        self.names = {"": "root"}  # path -> inode id, as the program sees them now
        self.durable_names = {"": "root"}
        self.dir_ops = []  # not yet durable, in order
        self.fds = {}  # fd -> (inode id, flags)
        self.order = 0
        self.problems = []  # what the model could not follow (reported, fails the fault)
        self.counter = 0
        for path, content in (initial or {}).items():
            self._new_name(path, "dir" if content is None else "file", content or b"", durable=True)

    def _new_name(self, path, kind, content=b"", durable=False, ino=None):
        self.counter += 1
        inode = f"{kind}-{ino or 'n' + str(self.counter)}-{self.counter}"
        self.inodes[inode] = Inode(kind, content)
        self.names[path] = inode
        if durable:
            self.durable_names[path] = inode
        return inode

    def _dir_op(self, kind, path, path2, inode, needs=None):
        if needs is not None:
            needs = {self.names.get(d) for d in needs}
        else:
            needs = {self.names.get(parent(path))}
            if path2 is not None:
                needs.add(self.names.get(parent(path2)))
        needs.discard(None)
        self.order += 1
        self.dir_ops.append(DirOp(kind, path, path2, inode, needs, self.order))

    def _write(self, inode_id, offset, data, synchronous):
        node = self.inodes[inode_id]
        end = offset + len(data)
        if len(node.cache) < offset:
            node.cache.extend(b"\0" * (offset - len(node.cache)))
        node.cache[offset:end] = data
        pages = range(offset // PAGE, (end - 1) // PAGE + 1) if data else []
        units = []
        for page in pages:
            self.order += 1
            units.append(
                Unit(inode_id, page, bytes(node.cache[page * PAGE : (page + 1) * PAGE]), len(node.cache), self.order)
            )
        if synchronous:
            for unit in units:
                _apply_page(node.durable, unit.page, unit.content)
            node.pending = [u for u in node.pending if u.page not in pages]
        else:
            node.pending.extend(units)
        return units

    def flush_inode(self, inode_id):
        node = self.inodes[inode_id]
        if node.kind == "file":
            node.durable = bytearray(node.cache)
            node.pending = []
        else:
            for op in self.dir_ops:
                op.needs.discard(inode_id)
            self._settle()

    def _settle(self):
        """Moves directory operations whose directories were flushed into the durable names
        (in order; a later durable one does not wait for an earlier pending one)."""
        keep = []
        for op in self.dir_ops:
            if op.needs:
                keep.append(op)
            else:
                _apply_dir_op(self.durable_names, op)
        self.dir_ops = keep

    def is_flush(self, r):
        """Whether record `r` flushes something (a cut is placed before each)."""
        if r.op in (FSYNC, FDATASYNC, SYNC):
            return True
        if r.op == WRITE and r.fd in self.fds and self.fds[r.fd][1] & O_DSYNC:
            return True
        return False

    def apply(self, r):
        if r.op == OPEN:
            if r.result < 0:
                return
            inode = self.names.get(r.path)
            if inode is None:
                if r.a & O_CREAT:
                    inode = self._new_name(r.path, "file", ino=r.b)
                    self._dir_op("create", r.path, None, inode)
                else:
                    self.problems.append(f"open of {r.path!r}, which the model does not know")
                    return
            elif r.a & O_TRUNC and self.inodes[inode].kind == "file":
                node = self.inodes[inode]
                node.cache = bytearray()
                self.order += 1
                node.pending.append(Unit(inode, -1, b"", 0, self.order))
            self.fds[r.fd] = (inode, r.a)
        elif r.op == CLOSE:
            self.fds.pop(r.fd, None)
        elif r.op == WRITE:
            if r.result <= 0:
                return
            inode, flags = self.fds[r.fd]
            self._write(inode, r.a, r.data, bool(flags & O_DSYNC))
        elif r.op in (FSYNC, FDATASYNC):
            if r.result == 0:
                self.flush_inode(self.fds[r.fd][0])
        elif r.op == SYNC:
            for inode in self.inodes:
                self.flush_inode(inode)
            for op in self.dir_ops:
                op.needs.clear()
            self._settle()
        elif r.op == FTRUNCATE:
            if r.result != 0:
                return
            inode = self.fds[r.fd][0]
            node = self.inodes[inode]
            if len(node.cache) < r.a:
                node.cache.extend(b"\0" * (r.a - len(node.cache)))
            else:
                del node.cache[r.a :]
            self.order += 1
            node.pending.append(Unit(inode, -1, b"", r.a, self.order))
        elif r.op == MMAP:
            self.inodes[self.fds[r.fd][0]].mapped = True
        elif r.op in (MKDIR, UNLINK, RMDIR, RENAME, LINK):
            if r.result != 0:
                return
            if r.b != (3 if r.op in (RENAME, LINK) else 1):
                self.problems.append(f"{NAMES[r.op]} across the root's edge: {r.path!r} {r.path2!r}")
                return
            if r.op == MKDIR:
                inode = self._new_name(r.path, "dir")
                self._dir_op("mkdir", r.path, None, inode)
            elif r.op in (UNLINK, RMDIR):
                inode = self.names.pop(r.path, None)
                for name in [n for n in self.names if n.startswith(r.path + "/")]:
                    del self.names[name]
                self._dir_op("remove", r.path, None, inode)
            elif r.op == RENAME:
                inode = self.names.pop(r.path, None)
                moved = {n: i for n, i in self.names.items() if n.startswith(r.path + "/")}
                for n in moved:
                    del self.names[n]
                for n, i in moved.items():
                    self.names[r.path2 + n[len(r.path) :]] = i
                self.names[r.path2] = inode
                if parent(r.path) == parent(r.path2):
                    self._dir_op("rename", r.path, r.path2, inode)
                else:
                    # Across directories: the new name is durable with its directory, the
                    # old one goes with its own (until then the file may have both names).
                    self._dir_op("link", r.path, r.path2, inode, needs=[parent(r.path2)])
                    self._dir_op("remove", r.path, None, inode)
            else:
                inode = self.names.get(r.path)
                self.names[r.path2] = inode
                self._dir_op("link", r.path, r.path2, inode)
        elif r.op in (MSYNC, SYNC_RANGE, FALLOCATE, SYMLINK):
            if r.op != MSYNC:
                self.problems.append(f"{NAMES[r.op]} is not modelled ({r.path!r})")

    # MARK: crash states

    def pending_units(self):
        units = [u for node in self.inodes.values() for u in node.pending]
        units.sort(key=lambda u: u.order)
        return units

    def crash_state(self, chosen_units, dir_prefix, torn=None):
        """{path: bytes, or None for a directory} of one crash state: the durable state plus
        the pending units in `chosen_units` (a set of their orders), the first `dir_prefix`
        pending directory operations, and `torn` ({unit order: sector mask}) tearing units."""
        names = dict(self.durable_names)
        for op in self.dir_ops[:dir_prefix]:
            _apply_dir_op(names, op)
        images = {}
        state = {}
        for path, inode in sorted(names.items()):
            node = self.inodes.get(inode)
            if node is None:
                continue
            if node.kind == "dir":
                state[path] = None
                continue
            if inode not in images:
                images[inode] = _image(node, chosen_units, torn or {})
            state[path] = images[inode]
        # A name whose directory did not persist is gone with it.
        return {p: c for p, c in state.items() if p == "" or parent(p) in state}

    def current_state(self):
        """What the program would see now (every write and name as made)."""
        state = {}
        for path, inode in self.names.items():
            node = self.inodes[inode]
            state[path] = None if node.kind == "dir" else bytes(node.cache)
        return state


def _apply_page(image, page, content):
    start = page * PAGE
    if len(image) < start:
        image.extend(b"\0" * (start - len(image)))
    image[start : start + len(content)] = content


def _image(node, chosen, torn):
    image = bytearray(node.durable)
    if node.mapped:
        return bytes(len(node.cache))
    for unit in node.pending:
        if unit.order not in chosen:
            continue
        if unit.page < 0:  # a size change
            if len(image) < unit.size:
                image.extend(b"\0" * (unit.size - len(image)))
            else:
                del image[unit.size :]
            continue
        mask = torn.get(unit.order)
        if mask is None:
            _apply_page(image, unit.page, unit.content)
            continue
        start = unit.page * PAGE
        for sector in range(0, len(unit.content), SECTOR):
            if mask >> (sector // SECTOR) & 1:
                piece = unit.content[sector : sector + SECTOR]
                if len(image) < start + sector:
                    image.extend(b"\0" * (start + sector - len(image)))
                image[start + sector : start + sector + len(piece)] = piece
    return bytes(image)


def _apply_dir_op(names, op):
    if op.kind in ("create", "mkdir"):
        names[op.path] = op.inode
    elif op.kind == "remove":
        names.pop(op.path, None)
        for n in [n for n in names if n.startswith(op.path + "/")]:
            del names[n]
    elif op.kind == "rename":
        if op.path not in names:
            return
        inode = names.pop(op.path)
        moved = {n: i for n, i in names.items() if n.startswith(op.path + "/")}
        for n in moved:
            del names[n]
        for n, i in moved.items():
            names[op.path2 + n[len(op.path) :]] = i
        names[op.path2] = inode
    elif op.kind == "link":
        names[op.path2] = op.inode


def digest(state):
    h = hashlib.sha256()
    for path in sorted(state):
        h.update(path.encode() + b"\0")
        content = state[path]
        h.update(b"d" if content is None else b"f" + hashlib.sha256(content).digest())
    return h.hexdigest()


def materialise(state, directory):
    """Writes a crash state under `directory` (directories 0700, files 0600)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for path in sorted(state):
        if path == "":
            continue
        target = os.path.join(directory, path)
        if state[path] is None:
            os.makedirs(target, mode=0o700, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(state[path])


class Cut:
    """A crash between two records: after record `index`, before the flush that follows."""

    def __init__(self, index, before_ns, variants):
        self.index = index
        self.before_ns = before_ns  # a crash here comes before this moment (ns, realtime)
        self.variants = variants  # [(name, state)]


def crash_states(records, cuts_wanted, variants_per_cut, rng, initial=None, early=0):
    """Replays `records` and builds crash states at `cuts_wanted` cut points chosen at random
    among the points just before each flush (and the end), plus the `early` first ones.

    Each cut yields up to `variants_per_cut` states: nothing pending persisted, everything,
    a prefix of the pending pages, a random subset, and subsets with one page torn into
    sectors. A cut before a synchronous write counts that write's pages as pending (a crash
    while it runs). Returns (cuts, number of cut points there were, model at the end)."""
    scout = Model(initial)
    candidates = []
    for index, record in enumerate(records):
        if index > 0 and scout.is_flush(record):
            candidates.append(index - 1)
        scout.apply(record)
    candidates = sorted(set(candidates + [len(records) - 1]))
    chosen = set(candidates[:early]) | {len(records) - 1}
    pool = [c for c in candidates if c not in chosen]
    rng.shuffle(pool)
    chosen |= set(pool[:cuts_wanted])
    model = Model(initial)
    cuts = []
    for index, record in enumerate(records):
        model.apply(record)
        if index not in chosen:
            continue
        following = records[index + 1] if index + 1 < len(records) else None
        synchronous = (
            following is not None
            and following.op == WRITE
            and following.result > 0
            and following.fd in model.fds
            and model.fds[following.fd][1] & O_DSYNC
        )
        if synchronous:
            inode = model.fds[following.fd][0]
            node = model.inodes[inode]
            cache, pending = bytearray(node.cache), list(node.pending)
            model._write(inode, following.a, following.data, False)
            variants = _variants(model, variants_per_cut, rng)
            node.cache, node.pending = cache, pending
        else:
            variants = _variants(model, variants_per_cut, rng)
        cuts.append(Cut(index, following.start if following else None, variants))
    return cuts, len(candidates), model


def _variants(model, wanted, rng):
    units = model.pending_units()
    pages = [u for u in units if u.page >= 0]
    orders = [u.order for u in units]
    dirs = len(model.dir_ops)
    out = [("durable only", model.crash_state(set(), 0)), ("everything written", model.crash_state(set(orders), dirs))]
    attempts = 0
    while len(out) < wanted and attempts < wanted * 4:
        attempts += 1
        kind = rng.choice(("prefix", "subset", "torn") if pages else ("prefix",))
        d = rng.randint(0, dirs)
        if kind == "prefix":
            k = rng.randint(0, len(orders))
            out.append((f"first {k}/{len(orders)} pages, {d}/{dirs} names", model.crash_state(set(orders[:k]), d)))
        elif kind == "subset":
            picked = {o for o in orders if rng.random() < 0.5}
            out.append((f"{len(picked)}/{len(orders)} pages at random, {d}/{dirs} names", model.crash_state(picked, d)))
        else:
            picked = {o for o in orders if rng.random() < 0.5}
            victim = rng.choice(pages)
            picked.add(victim.order)
            sectors = (len(victim.content) + SECTOR - 1) // SECTOR
            mask = rng.randrange(1, (1 << sectors) - 1) if sectors > 1 else 1
            out.append(
                (f"{len(picked)}/{len(orders)} pages, page {victim.page} torn ({mask:08b}), {d}/{dirs} names",
                 model.crash_state(picked, d, {victim.order: mask}))
            )
    return out[:wanted]
