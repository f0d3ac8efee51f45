// Messages written but not yet acknowledged, kept in IndexedDB so that a reload, a crash or a
// closed laptop does not lose them. Each entry keeps its msg_id: resending it later is safe,
// because the server stores a msg_id once.
//
// Entries belong to the person who wrote them (owner), so another login in the same browser
// never sends them. Without IndexedDB (a locked-down browser) the outbox lives in memory only.

const DB_NAME = "messenger-client";
const DB_VERSION = 1;
const STORE = "outbox";

let dbPromise = null;
const memory = new Map();

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve) => {
      if (!globalThis.indexedDB) {
        resolve(null);
        return;
      }
      let request;
      try {
        request = indexedDB.open(DB_NAME, DB_VERSION);
      } catch {
        resolve(null);
        return;
      }
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: "msg_id" });
        store.createIndex("owner", "owner");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    });
  }
  return dbPromise;
}

function run(mode, work) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        if (!db) {
          resolve(work(null));
          return;
        }
        const tx = db.transaction(STORE, mode);
        const result = work(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(result instanceof IDBRequest ? result.result : result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      }),
  );
}

// What is stored: the fields needed to show the message and to send it again.
function entryOf(owner, msg) {
  return {
    msg_id: msg.msg_id,
    owner,
    room_id: msg.room_id,
    type: msg.type,
    body: msg.body,
    reply_to: msg.reply_to || null,
    created: msg.created,
    localOrder: msg.localOrder,
    failed: Boolean(msg.failed),
    error: msg.error || "",
  };
}

export function outboxPut(owner, msg) {
  const entry = entryOf(owner, msg);
  return run("readwrite", (store) => {
    if (!store) memory.set(entry.msg_id, entry);
    else store.put(entry);
  }).catch(() => memory.set(entry.msg_id, entry));
}

export function outboxDelete(msgId) {
  memory.delete(msgId);
  return run("readwrite", (store) => {
    if (store) store.delete(msgId);
  }).catch(() => {});
}

export async function outboxAll(owner) {
  try {
    const rows = await run("readonly", (store) =>
      store ? store.index("owner").getAll(owner) : null,
    );
    const list = rows || [];
    for (const entry of memory.values()) {
      if (entry.owner === owner && !list.some((row) => row.msg_id === entry.msg_id)) {
        list.push(entry);
      }
    }
    return list;
  } catch {
    return [...memory.values()].filter((entry) => entry.owner === owner);
  }
}
