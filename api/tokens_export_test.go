package api

// TokenForTest is a token as the API answers it, with its secret when it
// was just created, for the external test package (the contract check of
// flowdtest holds its JSON to api/openapi.json).
type TokenForTest = createdToken
