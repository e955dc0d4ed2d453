// The socket.io chat demo (socket.io's examples/chat, its server without the
// static files and the typing events) as a peer of the chat under
// `chat bench peers`: socket.io 4.8 on Node.js, on 127.0.0.1:$PORT.
//
// One change: a new message goes to every user, its sender included
// (io.emit, where the demo has socket.broadcast.emit), as the chat echoes a
// message to its sender, so that both make the same deliveries.
const { createServer } = require("node:http");
const { Server } = require("socket.io");

const httpServer = createServer((req, res) => res.end("socket.io chat demo\n"));
const io = new Server(httpServer);

let numUsers = 0;

io.on("connection", (socket) => {
  let addedUser = false;

  socket.on("new message", (data) => {
    io.emit("new message", { username: socket.username, message: data });
  });

  socket.on("add user", (username) => {
    if (addedUser) return;
    socket.username = username;
    ++numUsers;
    addedUser = true;
    socket.emit("login", { numUsers });
    socket.broadcast.emit("user joined", { username: socket.username, numUsers });
  });

  socket.on("disconnect", () => {
    if (addedUser) {
      --numUsers;
      socket.broadcast.emit("user left", { username: socket.username, numUsers });
    }
  });
});

httpServer.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
