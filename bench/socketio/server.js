// Baseline for the fan-out benchmark: the seed's transport, socket.io 4 with its Redis
// adapter, doing the same job as our gateway minus the database: every client joins one
// room; a "send_msg" from the sender is acked and emitted to the room as "message".
// Usage: node server.js <port> <redis-url> <key-prefix>
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.argv[2] || 3050);
const redisUrl = process.argv[3] || "redis://127.0.0.1:6379/0";
const prefix = process.argv[4] || "bench-socketio";

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? 200 : 404);
    res.end();
  });
  const io = new Server(httpServer, {
    transports: ["websocket"],
    adapter: createAdapter(pub, sub, { key: prefix }),
  });
  let seq = 0;
  io.on("connection", (socket) => {
    socket.join("bench-room");
    socket.on("send_msg", (data, ack) => {
      seq += 1;
      const message = { room_id: 1, seq, msg_id: data.msg_id, body: data.body, sender: "bench" };
      io.to("bench-room").emit("message", message);
      if (typeof ack === "function") ack({ ok: true, data: message });
    });
  });
  httpServer.listen(port, "127.0.0.1", () => console.log(`socket.io baseline on ${port}`));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
