// A minimal node echo server with the net module, for bench/compare.
//   node node_echo.js [PORT]
// Listens on 127.0.0.1:PORT (0, the default: any free port), prints
// "Listening on 127.0.0.1:PORT" on stderr when ready; each socket is piped into itself
// (pipe() handles backpressure).
'use strict';
const net = require('net');
const server = net.createServer((sock) => {
  sock.on('error', () => sock.destroy());
  sock.pipe(sock);
});
server.listen({ host: '127.0.0.1', port: Number(process.argv[2] || 0), backlog: 4096 }, () => {
  process.stderr.write('Listening on 127.0.0.1:' + server.address().port + '\n');
});
