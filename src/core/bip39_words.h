/*
 * bip39_words.h - the BIP-39 English wordlist as generated at build time by
 * cmake/bip39_wordlist.cmake into build/generated/bip39_english.c.
 *
 * One string of all 2048 words concatenated plus 2049 offsets (word i is
 * evolu_bip39_chars[offsets[i] .. offsets[i+1]) ) is about 13 KB of flash
 * instead of 2048 pointers, and needs no relocation on a device. The list is
 * sorted in byte order, which the lookup by binary search relies on.
 */
#ifndef EVOLU_BIP39_WORDS_H
#define EVOLU_BIP39_WORDS_H

#include <stdint.h>

#define EVOLU_BIP39_WORD_COUNT 2048
/* The longest English word has 8 letters, the shortest 3. */
#define EVOLU_BIP39_WORD_MAX 8

extern const char evolu_bip39_chars[];
extern const uint16_t evolu_bip39_offsets[EVOLU_BIP39_WORD_COUNT + 1];

#endif
