// An empty module: a stem cell imports it while it waits, so that the
// function's own import is not the module loader's first.
export {};
