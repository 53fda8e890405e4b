"""The window terminal (`canteen terminal`): camera → face match → checkout API → kiosk screen,
with a durable offline queue. It talks to the server only over HTTP, never to the database, so
it runs the same on a device beside the window as on the server itself."""
