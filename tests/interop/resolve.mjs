// Copied by scripts/interop-setup.sh into each package set of the cache
// (next5/, v11/): resolves a bare specifier from that set's node_modules, so
// the drivers in tests/interop/ can load the set chosen at run time.
export const resolve = (specifier) => import.meta.resolve(specifier);
