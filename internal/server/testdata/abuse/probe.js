// A well-behaved function: answers at once.
exports.handler = async () => ({ ok: true });
